package storetest

// refundTests are the store behaviours of refunds.
var refundTests = []storeTest{}
