# caldav: the CalDAV (RFC 4791) / CardDAV (RFC 6352) mailbox connector. One
# endpoint is one account (a login); a binding's mailbox scope is that
# account's username. Feeds per binding: sync-collection (RFC 6578), or
# getetag listings where a collection lacks it.
name        = "caldav"
version     = "0.1.0"
kind        = "mailbox"
description = "CalDAV and CardDAV accounts (Nextcloud, Fastmail, iCloud, Google, SOGo, Radicale, Xandikos): contacts, appointments, tasks, service appointments."
protocol    = [1]

config {
  attribute "url" {
    type        = "string"
    required    = true
    description = "The server's address, e.g. https://dav.example.com/ or https://cloud.example.com/remote.php/dav/; discovery starts there."
  }
  attribute "username" {
    type        = "string"
    required    = true
    description = "The account's login name; bindings on this endpoint use it as their mailbox scope."
  }
  attribute "password" {
    type        = "string"
    default     = ""
    sensitive   = true
    description = "The account's password or app password (HTTP Basic over https)."
  }
  attribute "calendars" {
    type        = "list(string)"
    default     = []
    description = "Calendar collection paths to sync; empty means every calendar under the account's calendar-home-set. The first that takes VEVENT (VTODO) receives new appointments (tasks)."
  }
  attribute "address_books" {
    type        = "list(string)"
    default     = []
    description = "Address book collection paths to sync; empty means every address book under the account's addressbook-home-set. The first receives new contacts."
  }
  attribute "change_detection" {
    type        = "string"
    default     = "auto"
    description = "auto: sync-collection where a collection has it, else getetag listings; etags: always compare getetag listings."
  }
}

entity "contact" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["emails"]
  feed         = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "A contact may be edited in the address book or in the CRM."
  }

  operation "delete" {
    allowed = "bidirectional"
    default = "crm_to_mailbox"
    reason  = "mailbox deletes untrack by default: a user tidying an address book should not delete CRM contacts"
  }
}

entity "appointment" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["ical_uid"]
  feed         = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "Meetings are planned in the calendar and in the CRM alike."
  }
}

entity "task" {
  operations = ["create", "update", "delete"]
  feed       = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks are ticked off wherever the user happens to be."
  }
}

entity "service_appointment" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["ical_uid"]
  feed         = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "Events the gateway wrote as service appointments (X-SYNCGATE-ENTITY) are reported as such, so that the CRM side's rule decides whether a mailbox edit may flow back."
  }
}
