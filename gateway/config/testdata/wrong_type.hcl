endpoint "test-mailbox" "mail" {
  tenant_id       = "contoso"
  client_id       = ["app"]
  client_secret   = env("SYNCGATE_TEST_SECRET")
  page_size       = "many"
  immutable_ids   = "maybe"
  folders         = "Calendar"
  headers         = ["x"]
  poll_interval   = 60
  call_timeout    = "-5s"
  max_concurrency = 2.5
}
