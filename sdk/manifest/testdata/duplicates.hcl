name    = "test"
version = "1.0.0"
kind    = "crm"

config {
  attribute "url" {
    type = "string"
  }
  attribute "url" {
    type = "string"
  }
}

entity "task" {
  operations = ["create", "update"]
  feed       = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks move both ways."
  }

  field "subject" {
    allowed = "bidirectional"
    reason  = "Once."
  }

  field "subject" {
    allowed = "none"
    reason  = "Twice."
  }
}

entity "task" {
  operations = ["create"]
  feed       = "endpoint"

  direction {
    allowed = "none"
    reason  = "Declared again."
  }
}
