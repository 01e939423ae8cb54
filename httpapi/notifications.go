package httpapi

import "net/http"

func (a *api) listNotifications(w http.ResponseWriter, r *http.Request) (any, int) {
	return map[string]string{"error": "not built yet"}, http.StatusNotImplemented
}

func (a *api) replayNotification(w http.ResponseWriter, r *http.Request) (any, int) {
	return map[string]string{"error": "not built yet"}, http.StatusNotImplemented
}
