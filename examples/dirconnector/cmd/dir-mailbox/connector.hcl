# dir-mailbox: the mailbox side of the example directory connector. Items
# are JSON files under <dir>/items/<mailbox>/<entity>/, one change feed per
# mailbox (a binding's scope), like a mailbox server's delta query.
name        = "dir-mailbox"
version     = "0.1.0"
kind        = "mailbox"
description = "Example mailbox connector: items are JSON files in a folder, with a change journal."
protocol    = [1]

config {
  attribute "dir" {
    type        = "path"
    required    = true
    description = "The folder that holds the mailboxes' items and the change journal; created if missing."
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
    reason  = "The mailbox side does not restrict service appointments; the CRM side decides where they may flow."
  }
}
