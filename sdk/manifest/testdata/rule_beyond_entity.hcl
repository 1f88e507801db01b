name    = "test"
version = "1.0.0"
kind    = "crm"

entity "appointment" {
  operations = ["create", "update", "delete"]
  feed       = "endpoint"

  direction {
    allowed = "crm_to_mailbox"
    reason  = "Appointments are made in the CRM."
  }

  operation "delete" {
    allowed = "mailbox_to_crm"
    reason  = "A delete in the mailbox cancels it in the CRM."
  }

  field "subject" {
    allowed = "bidirectional"
    reason  = "Subjects may be fixed anywhere."
  }
}
