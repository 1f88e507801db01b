name    = "test"
version = "1.0.0"
kind    = "crm"

entity "contact" {
  operations = ["create", "upsert"]
  feed       = "stream"
}
