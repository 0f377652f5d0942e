"""Every write of the tapers app: validation, transaction, side effects. One module per area."""
