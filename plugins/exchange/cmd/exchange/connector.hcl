# exchange: the Microsoft Graph mailbox connector. One binding scope is one
# mailbox (/users/{id or userPrincipalName}); each of its feeds is a Graph
# delta query of that mailbox. Which mailbox items enter the CRM (tracking by
# category, folder or all) is the gateway's policy, not a setting here.
name        = "exchange"
version     = "0.1.0"
kind        = "mailbox"
description = "Exchange Online mailboxes over Microsoft Graph v1.0: contacts, calendar and To Do tasks."
protocol    = [1]

config {
  attribute "tenant_id" {
    type        = "string"
    required    = true
    description = "The directory (tenant) id or a verified domain of the Microsoft 365 tenant."
  }
  attribute "client_id" {
    type        = "string"
    required    = true
    description = "The application (client) id of the app registration, with application permissions Contacts.ReadWrite, Calendars.ReadWrite and Tasks.ReadWrite.All."
  }
  attribute "client_secret" {
    type        = "string"
    required    = true
    sensitive   = true
    description = "A client secret of the app registration."
  }
  attribute "authority_url" {
    type        = "string"
    default     = "https://login.microsoftonline.com"
    description = "The identity platform; the token endpoint is <authority_url>/<tenant_id>/oauth2/v2.0/token."
  }
  attribute "graph_url" {
    type        = "string"
    default     = "https://graph.microsoft.com/v1.0"
    description = "The Graph v1.0 base address; an emulator or a national cloud is a change here."
  }
  attribute "calendar_days_back" {
    type        = "number"
    default     = 30
    description = "The calendar window starts this many days before today (the window moves once a day)."
  }
  attribute "calendar_days_ahead" {
    type        = "number"
    default     = 365
    description = "The calendar window ends this many days after today."
  }
  attribute "page_size" {
    type        = "number"
    default     = 100
    description = "Items per delta page asked of Graph (Prefer: odata.maxpagesize)."
  }
  attribute "max_delta_pages" {
    type        = "number"
    default     = 10000
    description = "A delta round longer than this many pages is an error instead of an endless loop."
  }
  attribute "max_requests_per_mailbox" {
    type        = "number"
    default     = 4
    description = "Requests in flight per mailbox, 1 to 4: Graph allows 4 concurrent requests per app and mailbox."
  }
  attribute "notification_url" {
    type        = "string"
    default     = ""
    description = "The gateway's public address of /hooks/<endpoint>; when set, change notifications are subscribed for every mailbox and wake collection early."
  }
  attribute "send_invitations" {
    type        = "bool"
    default     = false
    description = "Write appointment attendees to Graph, which sends invitations; when false they are kept on the item without being invited."
  }
}

entity "contact" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["emails"]
  feed         = "scope"
  feed_name    = "contacts"

  direction {
    allowed = "bidirectional"
    reason  = "A contact may be edited in Outlook or in the CRM."
  }

  operation "delete" {
    allowed = "bidirectional"
    default = "crm_to_mailbox"
    reason  = "A contact deleted in a mailbox is untracked by default: a user tidying an address book should not delete CRM contacts."
  }
}

entity "appointment" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["ical_uid"]
  feed         = "scope"
  feed_name    = "calendar"

  direction {
    allowed = "bidirectional"
    reason  = "Meetings are planned in Outlook and in the CRM alike; every attendee's copy carries the same iCalUId."
  }
}

entity "service_appointment" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["ical_uid"]
  feed         = "scope"
  feed_name    = "calendar"

  direction {
    allowed = "crm_to_mailbox"
    default = "crm_to_mailbox"
    reason  = "Scheduled in the CRM with resource availability that lives only there; the resource's calendar holds a marked copy, and edits made in the mailbox are blocked changes."
  }
}

entity "task" {
  operations = ["create", "update", "delete"]
  feed       = "scope"
  feed_name  = "tasks"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks are ticked off in To Do or in the CRM, wherever the user happens to be."
  }
}
