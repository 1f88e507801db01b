# The configuration that the explain tests read.
endpoint "test-mailbox" "mail" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

binding "alice" {
  mailbox  = "alice@example.com"
  crm_user = "alice@example.com"
}

binding "bob" {
  mailbox  = "bob@example.com"
  crm_user = "robert@example.com"
}

policy "contact" {
  direction = "bidirectional"
  conflict  = "crm_wins"

  tracking {
    mode  = "folder"
    value = "CRM"
  }

  deletes {
    from_mailbox = "propagate"
  }

  operation "update" {
    direction = "crm_to_mailbox"
  }
}

policy "appointment" {
  direction = "crm_to_mailbox"

  # Within what the manifests allow, but beyond the entity's own direction.
  field "body" {
    direction = "bidirectional"
  }
}

policy "service_appointment" {
  on_blocked = "revert"

  field "body" {
    direction = "crm_to_mailbox"
  }
}
