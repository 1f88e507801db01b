// Package deps pins modules that parts of syncgate under construction will
// import, so that go.mod and go.sum stay complete while they are written.
// It is removed once they import them themselves.
package deps

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/emersion/go-ical"
	_ "github.com/emersion/go-vcard"
	_ "github.com/emersion/go-webdav"
	_ "github.com/emersion/go-webdav/caldav"
	_ "github.com/emersion/go-webdav/carddav"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "golang.org/x/time/rate"
)
