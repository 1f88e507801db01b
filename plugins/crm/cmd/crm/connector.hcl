# crm: the Dataverse (Dynamics 365) connector, over the Web API v9.2. One
# change-tracking feed per entity for the whole org, routed to bindings by
# owner and activity parties; writes act as the binding's Dataverse user.
name        = "crm"
version     = "0.1.0"
kind        = "crm"
description = "Microsoft Dataverse (Dynamics 365) over the Web API v9.2: contacts, appointments and series, tasks, service appointments."
protocol    = [1]

config {
  attribute "url" {
    type        = "string"
    required    = true
    description = "The org's Web API address, ending in /api/data/v9.2, e.g. https://contoso.crm.dynamics.com/api/data/v9.2."
  }
  attribute "authority_url" {
    type        = "string"
    default     = "https://login.microsoftonline.com"
    description = "The OAuth2 authority; tokens come from <authority_url>/<tenant_id>/oauth2/v2.0/token."
  }
  attribute "tenant_id" {
    type        = "string"
    required    = true
    description = "The Microsoft Entra tenant (a GUID or a domain)."
  }
  attribute "client_id" {
    type        = "string"
    required    = true
    description = "The app registration's client id; the app must be an application user of the org, allowed to act on behalf of others."
  }
  attribute "client_secret" {
    type        = "string"
    required    = true
    sensitive   = true
    description = "The app registration's client secret."
  }
  attribute "scope" {
    type        = "string"
    default     = ""
    description = "The OAuth2 scope; empty means the org's address followed by /.default."
  }
  attribute "id_column" {
    type        = "string"
    default     = "sg_syncgateid"
    description = "The custom text column (on contact, appointment, recurringappointmentmaster, task and serviceappointment) that holds the syncgate id."
  }
  attribute "page_size" {
    type        = "number"
    default     = 500
    description = "Rows per change-tracking page when the gateway does not ask for a size (1 to 5000)."
  }
  attribute "webhook_key" {
    type        = "string"
    default     = ""
    sensitive   = true
    description = "The key Dataverse webhooks to the gateway's /hooks/<endpoint> carry (?code=<key> or an X-Syncgate-Key header); they wake a feed early. Empty: no webhooks."
  }
  attribute "max_concurrent_per_user" {
    type        = "number"
    default     = 52
    description = "Concurrent requests per Dataverse user; Dataverse refuses more than 52."
  }
}

entity "contact" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["emails"]
  feed         = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "A contact may be edited in the CRM or in an address book."
  }

  field "display_name" {
    allowed = "crm_to_mailbox"
    reason  = "Dataverse computes fullname from the name parts; the connector reads it and never writes it."
  }

  field "company" {
    allowed = "none"
    reason  = "A Dataverse contact's company is its parent account, a lookup to another record, not a name."
  }

  field "categories" {
    allowed = "none"
    reason  = "Dataverse contacts have no categories."
  }
}

entity "appointment" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["ical_uid"]
  feed         = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Meetings are planned in the CRM and in the calendar alike."
  }

  field "body" {
    allowed = "bidirectional"
    default = "crm_to_mailbox"
    reason  = "The description is the CRM's record of the meeting; by default the mailbox copy follows it."
  }

  field "status" {
    allowed = "bidirectional"
    default = "crm_to_mailbox"
    reason  = "Completing or cancelling an activity is the CRM's business by default; a meeting cancelled in the calendar may be allowed to cancel it."
  }

  field "reminder_minutes" {
    allowed = "none"
    reason  = "Dataverse appointments have no reminder."
  }
}

entity "task" {
  operations = ["create", "update", "delete"]
  feed       = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks are ticked off wherever the user happens to be."
  }

  field "body" {
    allowed = "bidirectional"
    default = "crm_to_mailbox"
    reason  = "The description is the CRM's record of the task; by default the mailbox copy follows it."
  }

  field "reminder" {
    allowed = "none"
    reason  = "Dataverse tasks have no reminder."
  }
}

entity "service_appointment" {
  operations = ["create", "update", "delete"]
  feed       = "endpoint"

  direction {
    allowed = "crm_to_mailbox"
    default = "crm_to_mailbox"
    reason  = "Scheduled by an agent with resource free/busy that lives only in the CRM."
  }
}
