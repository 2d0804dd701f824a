package fleet

// addOps wires the operational units of a worker (consumer lag, table recovery metrics).
func (w *Worker) addOps() error { return nil }
