gateway {
  log_level    = "verbose"
  admin_listen = "9700"
}

policy "contacts" {
  direction = "bidirectional"
}

policy "contact" {
  direction  = "both"
  conflict   = "newest"
  on_blocked = "warn"

  tracking {
    mode = "tag"
  }

  deletes {
    from_crm     = "delete"
    from_mailbox = "untrack"
  }

  operation "move" {
    direction = "none"
  }

  field "nickname" {
    direction = "none"
  }

  field "notes" {
    direction = "crm-to-mailbox"
  }
}

policy "task" {
  tracking {
    mode = "category"
  }
}

policy "appointment" {
  tracking {
    mode  = "all"
    value = "Work"
  }
}
