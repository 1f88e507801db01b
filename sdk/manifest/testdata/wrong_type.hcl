name    = "test"
version = "1.0.0"
kind    = "mailbox"

config {
  attribute "tenant" {
    type     = "string"
    required = "yes"
  }
}

entity "contact" {
  operations = "create"
  feed       = "scope"

  direction {
    allowed = "bidirectional"
    reason  = ["not", "a", "string"]
  }
}
