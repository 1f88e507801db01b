# A CRM connector that declares every part of a manifest.
name        = "test-crm"
version     = "1.2.0"
kind        = "crm"
description = "CRM connector for the manifest tests"
protocol    = [1, 2]

config {
  attribute "url" {
    type        = "string"
    required    = true
    description = "the org's Web API address"
  }
  attribute "client_secret" {
    type      = "string"
    required  = true
    sensitive = true
  }
  attribute "page_size" {
    type    = "number"
    default = 500
  }
  attribute "cache_dir" {
    type    = "path"
    default = "cache"
  }
  attribute "verbose" {
    type    = "bool"
    default = false
  }
  attribute "entities" {
    type    = "list(string)"
    default = ["contact", "service_appointment"]
  }
  attribute "headers" {
    type    = "map(string)"
    default = { "User-Agent" = "syncgate" }
  }
}

entity "contact" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["emails"]
  feed         = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Contacts are edited on both sides."
  }

  operation "delete" {
    allowed = "bidirectional"
    default = "crm_to_mailbox"
    reason  = "A contact deleted in a mailbox is only untracked unless the operator says otherwise."
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

  field "body" {
    allowed = "crm_to_mailbox"
    default = "none"
    reason  = "The description is written in the CRM."
  }
}
