# Models arrive with the insurance issue.
