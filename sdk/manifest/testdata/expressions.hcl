name    = "test"
version = env("VERSION")
kind    = kind.mailbox
