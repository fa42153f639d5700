package server

// partitionCoordinator keeps state in the partitions of an internal topic
// and serves the ones this broker leads (the group and transaction
// coordinators).
type partitionCoordinator interface {
	Load(partition, epoch int32)
	Unload(partition int32)
	Close()
}

// attachCoordinator has c follow the leadership of topic's partitions here,
// and closes it when the broker stops.
func (b *Broker) attachCoordinator(topic string, c partitionCoordinator) {
	b.OnLeadership(func(t string, partition int32, leader bool, epoch int32) {
		if t != topic {
			return
		}
		if leader {
			c.Load(partition, epoch)
		} else {
			c.Unload(partition)
		}
	})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		<-b.ctx.Done()
		c.Close()
	}()
}
