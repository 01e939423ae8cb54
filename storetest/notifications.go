package storetest

// notificationTests are the store behaviours of the notification outbox.
var notificationTests = []storeTest{}
