# The CRM connector of the config tests.
name        = "test-crm"
version     = "1.0.0"
kind        = "crm"
description = "CRM connector for the config tests"

config {
  attribute "url" {
    type        = "string"
    required    = true
    description = "the org's address"
  }
  attribute "client_secret" {
    type      = "string"
    required  = true
    sensitive = true
  }
  attribute "api_version" {
    type    = "string"
    default = "9.2"
  }
}

entity "contact" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["emails"]
  feed         = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Contacts are edited in the mailbox and in the CRM."
  }

  field "notes" {
    allowed = "crm_to_mailbox"
    reason  = "Notes are written in the CRM."
  }
}

entity "appointment" {
  operations = ["create", "update", "delete"]
  feed       = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Meetings are planned in the mailbox and in the CRM."
  }

  field "body" {
    allowed = "bidirectional"
    default = "crm_to_mailbox"
    reason  = "The CRM's description is the master copy unless the operator says otherwise."
  }
}

entity "task" {
  operations = ["create", "update", "delete"]
  feed       = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks are edited on both sides."
  }
}

entity "service_appointment" {
  operations = ["create", "update", "delete"]
  feed       = "endpoint"
  feed_name  = "activities"

  direction {
    allowed = "crm_to_mailbox"
    reason  = "Scheduled by an agent with resource free/busy that lives only in the CRM."
  }

  operation "delete" {
    allowed = "crm_to_mailbox"
    default = "none"
    reason  = "A cancelled service appointment stays on the resource's calendar until the agent removes it."
  }
}

entity "email" {
  operations = ["create"]
  feed       = "endpoint"

  direction {
    allowed = "mailbox_to_crm"
    reason  = "Tracked mail is filed in the CRM; the CRM sends no mail to mailboxes."
  }
}
