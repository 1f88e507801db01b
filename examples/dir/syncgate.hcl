# syncgate with the example directory connectors on both sides: a "mailbox"
# and a "CRM" that are folders of JSON files. It runs on any machine with no
# backend at all, and is what `make run` uses until the Exchange and CRM
# connectors land. Paths are relative to this file.

gateway {
  data_dir   = "../../bin/data/gateway"
  plugin_dir = "../../bin/plugins"            # written by `make build`
  lock_file  = "../../bin/connectors.lock.hcl" # written by `make build`
  log_level  = "info"
}

endpoint "dir-mailbox" "mail" {
  dir           = "../../bin/data/dir/mailboxes"
  poll_interval = "2s"
}

endpoint "dir-crm" "crm" {
  dir           = "../../bin/data/dir/crm"
  poll_interval = "2s"
}

binding "alice" {
  mailbox  = "alice@example.com"
  crm_user = "alice@example.com"
}

binding "bob" {
  mailbox  = "bob@example.com"
  crm_user = "bob@example.com"
}

policy "contact" {
  direction  = "bidirectional"
  conflict   = "newest_wins"
  on_blocked = "report"

  tracking {
    mode = "all"
  }

  deletes {
    from_crm     = "propagate"
    from_mailbox = "untrack"
  }
}

policy "appointment" {
  direction = "bidirectional"
  conflict  = "merge"

  # The description is written in the CRM; the mailbox copy follows it.
  field "body" {
    direction = "crm_to_mailbox"
  }
}

policy "service_appointment" {
  direction  = "crm_to_mailbox"
  on_blocked = "revert"
}
