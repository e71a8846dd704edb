"""Promotion: moving what one environment pins to the next once it has proved itself there.

`pins` reads and edits the pins (a stack file's infrastructure pins, a cluster's chart versions in
`versions.env`), `order` says which moves are allowed, `gate` asks git and GitHub whether the
source environment reported success for its pins, and `command` is `make promote`."""
