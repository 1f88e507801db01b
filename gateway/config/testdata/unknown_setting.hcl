gateway {
  plugin_dir = "manifests"
  data_dri   = "data"
}

endpoint "test-mailbox" "mail" {
  tenant        = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
  pol_interval  = "15s"
  region        = "eu"

  retry {
    max = 3
  }
}
