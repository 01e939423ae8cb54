package sqlite

import "github.com/posgate/posgate"

func (t *tx) Notification(id string) (posgate.Notification, error) {
	return posgate.Notification{}, errTODO
}
func (t *tx) Notifications(failedOnly bool, limit int) ([]posgate.Notification, error) {
	return nil, errTODO
}
func (t *tx) UpdateNotification(n posgate.Notification) error { return errTODO }
