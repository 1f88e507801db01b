name    = "test"
version = "1.0.0"
kind    = "mailbox"

entity "contact" {
  operations   = ["create"]
  natural_keys = ["email"]
  feed         = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "  "
  }

  operation "move" {
    allowed = "none"
    reason  = "Not an operation."
  }
}
