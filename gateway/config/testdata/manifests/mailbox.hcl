# The mailbox connector of the config tests.
name        = "test-mailbox"
version     = "1.0.0"
kind        = "mailbox"
description = "mailbox connector for the config tests"

config {
  attribute "tenant_id" {
    type        = "string"
    required    = true
    description = "the directory (tenant) id"
  }
  attribute "client_id" {
    type     = "string"
    required = true
  }
  attribute "client_secret" {
    type      = "string"
    required  = true
    sensitive = true
  }
  attribute "cert_file" {
    type = "path"
  }
  attribute "cache_dir" {
    type    = "path"
    default = "cache"
  }
  attribute "page_size" {
    type    = "number"
    default = 50
  }
  attribute "immutable_ids" {
    type    = "bool"
    default = true
  }
  attribute "folders" {
    type    = "list(string)"
    default = ["Calendar", "Contacts"]
  }
  attribute "headers" {
    type = "map(string)"
  }
}

entity "contact" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["emails"]
  feed         = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "Contacts are edited in the mailbox and in the CRM."
  }

  operation "delete" {
    allowed = "bidirectional"
    default = "crm_to_mailbox"
    reason  = "A contact deleted in a mailbox is often personal clean-up, not a CRM decision."
  }
}

entity "appointment" {
  operations = ["create", "update", "delete"]
  feed       = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "Meetings are planned in the mailbox and in the CRM."
  }

  field "categories" {
    allowed = "none"
    reason  = "Categories are the mailbox owner's own filing."
  }
}

entity "task" {
  operations = ["create", "update"]
  feed       = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks are edited on both sides."
  }
}

entity "service_appointment" {
  operations = ["create", "update", "delete"]
  feed       = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "A service appointment is a calendar item like any other."
  }
}
