# A connector for the host's tests: it keeps items in the host's key-value
# store and misbehaves on request (config attribute "mode").
name        = "notaplugin"
version     = "0.0.1"
kind        = "crm"
description = "test connector for gateway/host"

config {
  attribute "mode" {
    type        = "string"
    default     = "ok"
    description = "ok | hang_fetch | exit_soon"
  }
}

entity "contact" {
  operations = ["create", "update", "delete"]
  feed       = "endpoint"

  direction {
    allowed = "bidirectional"
    reason  = "test"
  }
}
