name    = "test"
version = "1.0.0"
kind    = "mailbox"

entity "contact" {
  operations = ["create", "update"]
  feed       = "scope"

  direction {
    allowed = "both_ways"
    reason  = "Typo in the direction."
  }

  field "notes" {
    allowed = "none"
    default = "to_crm"
    reason  = "Notes stay where they are written."
  }
}
