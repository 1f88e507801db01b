name    = "test"
version = "1.0.0"
kind    = "crm"

entity "task" {
  operations = ["create", "update"]
  feed       = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks move both ways."
  }

  field "title" {
    allowed = "crm_to_mailbox"
    reason  = "The task's title is called subject."
  }
}
