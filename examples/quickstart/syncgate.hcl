# The syncgate quick start: three Exchange mailboxes and a Dynamics 365 org,
# both emulated on this machine (bin/graph-emulator on 127.0.0.1:9101,
# bin/dataverse-emulator on 127.0.0.1:9102). `make run` starts the emulators
# with demo data, then the gateway with this file; see README.md next to it.
# The quick-start program reads this file to know the emulators' addresses,
# the users to create and the admin address, so edit it here only.
# Paths are relative to this file.

gateway {
  # Cleared by the quick start at every start: the emulators keep their data
  # in memory, so a gateway state from an earlier run would not match them.
  data_dir     = "../../bin/data/quickstart/gateway"
  plugin_dir   = "../../bin/plugins"            # written by `make build`
  lock_file    = "../../bin/connectors.lock.hcl" # written by `make build`
  log_level    = "info"
  admin_listen = "127.0.0.1:9700" # the web page and the admin API
}

# The credentials below are the emulators' fixed demo credentials, written
# as literals on purpose: they open nothing but the emulators on this
# machine, and a newcomer can copy them into curl as they are. `syncgate
# validate` warns about literal secrets; for a real tenant use
# env("EXCHANGE_CLIENT_SECRET") or file("path") instead.
endpoint "exchange" "mailbox" {
  tenant_id     = "contoso"
  client_id     = "syncgate-emulator"
  client_secret = "syncgate-emulator-secret"
  authority_url = "http://127.0.0.1:9101"
  graph_url     = "http://127.0.0.1:9101/v1.0"
  poll_interval = "2s"
  # The emulator sends change notifications to the gateway's admin
  # listener, so a mailbox edit arrives without waiting for the next poll.
  notification_url = "http://127.0.0.1:9700/hooks/mailbox"
}

endpoint "crm" "crm" {
  url           = "http://127.0.0.1:9102/api/data/v9.2"
  tenant_id     = "contoso"
  client_id     = "syncgate-emulator"
  client_secret = "syncgate-emulator-secret"
  authority_url = "http://127.0.0.1:9102"
  poll_interval = "2s"
}

# One binding per demo user: the user's mailbox paired with the same
# person's CRM user (found by e-mail address).
binding "alice" {
  mailbox  = "alice@contoso.example"
  crm_user = "alice@contoso.example"
}

binding "bob" {
  mailbox  = "bob@contoso.example"
  crm_user = "bob@contoso.example"
}

binding "carol" {
  mailbox  = "carol@contoso.example"
  crm_user = "carol@contoso.example"
}

# Contacts go both ways. Every contact in a mailbox is tracked to the CRM
# (the default would take only those with the "Tracked to CRM" category).
policy "contact" {
  direction = "bidirectional"
  conflict  = "newest_wins" # both sides edited since the last sync: the later edit wins

  tracking {
    mode = "all"
  }

  # A field-level rule: job titles are kept in the CRM; one edited in a
  # mailbox is a blocked change, reported on the web page.
  field "job_title" {
    direction = "crm_to_mailbox"
  }

  deletes {
    from_crm     = "propagate" # deleted in the CRM: deleted from the mailbox too
    from_mailbox = "untrack"   # deleted in a mailbox: the CRM keeps it
    # The delete guard: a cycle that would delete more than a fifth of a
    # binding's contacts pauses the binding until someone confirms.
    max_delete_share = 0.2
  }
}

# Meetings go both ways; a mailbox meeting enters the CRM when it has the
# category "Tracked to CRM" (the demo data tags some of them).
policy "appointment" {
  direction = "bidirectional"
  conflict  = "merge" # both sides edited: different fields are merged

  tracking {
    mode  = "category"
    value = "Tracked to CRM"
  }
}

policy "task" {
  direction = "bidirectional"

  tracking {
    mode = "all"
  }
}

# Service appointments are booked in the CRM and copied to the resources'
# calendars; an edit made in a calendar is put back as the CRM has it.
policy "service_appointment" {
  direction  = "crm_to_mailbox"
  on_blocked = "revert"
}
