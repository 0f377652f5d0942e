# Models arrive with the tapers issue.
