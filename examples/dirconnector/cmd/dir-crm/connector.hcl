# dir-crm: the CRM side of the example directory connector. Records are JSON
# files under <dir>/items/<owner>/<entity>/, with one change feed per
# endpoint (like Dataverse change tracking) whose records carry routing keys:
# the owner and every attendee or resource.
name        = "dir-crm"
version     = "0.1.0"
kind        = "crm"
description = "Example CRM connector: records are JSON files in a folder, with a change journal."
protocol    = [1]

config {
  attribute "dir" {
    type        = "path"
    required    = true
    description = "The folder that holds the CRM's records and the change journal; created if missing."
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
    reason  = "The description is written in the CRM by default; the mailbox copy follows it."
  }
}

entity "task" {
  operations = ["create", "update", "delete"]
  feed       = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "Tasks are ticked off wherever the user happens to be."
  }
}

entity "service_appointment" {
  operations   = ["create", "update", "delete"]
  natural_keys = ["ical_uid"]
  feed         = "endpoint"

  direction {
    allowed = "crm_to_mailbox"
    default = "crm_to_mailbox"
    reason  = "Scheduled by an agent with resource free/busy that lives only in the CRM."
  }
}
