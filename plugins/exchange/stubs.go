package exchange

import (
	"context"

	"github.com/syncgate/syncgate/sdk"
)

func notYet(string) error { return sdk.NewError(sdk.ErrConfig, "not built yet") }

func calendarStart(context.Context, *Connector, *state, string) (string, string, error) {
	return "", "", notYet("")
}
func calendarRecords(context.Context, *Connector, *state, string, []deltaEntry) ([]sdk.ChangeRecord, error) {
	return nil, notYet("")
}
func tasksStart(context.Context, *Connector, *state, string) (string, string, error) {
	return "", "", notYet("")
}
func taskRecords(context.Context, *Connector, *state, string, []deltaEntry) ([]sdk.ChangeRecord, error) {
	return nil, notYet("")
}
func fetchEvent(string) func(context.Context, *Connector, *state, string, string) (*sdk.Record, error) {
	return func(context.Context, *Connector, *state, string, string) (*sdk.Record, error) { return nil, notYet("") }
}
func createEvent(string) func(context.Context, *Connector, *state, string, sdk.Op) (sdk.OpResult, error) {
	return func(context.Context, *Connector, *state, string, sdk.Op) (sdk.OpResult, error) {
		return sdk.OpResult{}, notYet("")
	}
}
func updateEvent(string) func(context.Context, *Connector, *state, string, sdk.Op) (sdk.OpResult, error) {
	return func(context.Context, *Connector, *state, string, sdk.Op) (sdk.OpResult, error) {
		return sdk.OpResult{}, notYet("")
	}
}
func eventPath(context.Context, *state, string, string) (string, error) { return "", notYet("") }
func fetchTask(context.Context, *Connector, *state, string, string) (*sdk.Record, error) {
	return nil, notYet("")
}
func createTask(context.Context, *Connector, *state, string, sdk.Op) (sdk.OpResult, error) {
	return sdk.OpResult{}, notYet("")
}
func updateTask(context.Context, *Connector, *state, string, sdk.Op) (sdk.OpResult, error) {
	return sdk.OpResult{}, notYet("")
}
func taskPath(context.Context, *state, string, string) (string, error)     { return "", notYet("") }
func forgetServiceAppointment(context.Context, *state, string, string)     {}
func (c *Connector) ensureSubscriptions(context.Context, *state, sdk.Feed) {}
func (c *Connector) HandleWebhook(context.Context, sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	return sdk.WebhookResponse{Status: 404}, nil
}
