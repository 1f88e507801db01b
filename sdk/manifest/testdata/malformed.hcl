name    = "broken"
version = "1.0.0"
kind    = "crm"

entity "contact" {
  operations = ["create"
  feed       = "endpoint"
}
