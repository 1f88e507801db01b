name    = "test"
version = "1.0.0"
kind    = "crm"

entity "contacts" {
  operations = ["create"]
  feed       = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Plural by mistake."
  }
}
