name    = "test"
version = "1.0.0"
kind    = "mailbox"

entity "task" {
  operations = ["create", "update"]
  feed       = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks move both ways."
  }

  operation "delete" {
    allowed = "none"
    reason  = "This connector never deletes tasks."
  }
}
