name    = "test"
version = "1.0.0"
kind    = "mailbox"

entity "contact" {
  operations = ["create", "update", "delete"]
  feed       = "scope"

  direction {
    allowed = "crm_to_mailbox"
    default = "bidirectional"
    reason  = "The CRM owns contacts."
  }
}
