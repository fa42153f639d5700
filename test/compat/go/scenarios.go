package main

import (
	"context"
	"fmt"
)

func adminTopics(ctx context.Context, name, topic string) error {
	switch name {
	case "franz":
		return franzAdminTopics(ctx, topic)
	case "sarama":
		return saramaAdminTopics(ctx, topic)
	}
	return fmt.Errorf("admin-topics not implemented for %s", name)
}

func adminConfigs(ctx context.Context, name, topic string) error {
	switch name {
	case "franz":
		return franzAdminConfigs(ctx, topic)
	case "sarama":
		return saramaAdminConfigs(ctx, topic)
	}
	return fmt.Errorf("admin-configs not implemented for %s", name)
}

func transactions(ctx context.Context, name, topic string) error {
	switch name {
	case "franz":
		return franzTransactions(ctx, topic)
	case "sarama":
		return saramaTransactions(ctx, topic)
	}
	return fmt.Errorf("transactions not implemented for %s", name)
}

// groupResume: produce 10; a group member reads and commits 5 and leaves; a new member of
// the same group must resume at offset 5.
func groupResume(ctx context.Context, name, topic string) error {
	c, err := newClient(name)
	if err != nil {
		return err
	}
	want := makeRecs("grp", 10, 0)
	if err := c.produce(ctx, topic, want, prodOpts{Acks: -1}); err != nil {
		return err
	}
	group := topic + "-g"
	var consume func(context.Context, string, string, int) ([]rec, error)
	switch name {
	case "franz":
		consume = franzGroupConsume
	case "sarama":
		consume = saramaGroupConsume
	case "kafkago":
		consume = kafkaGoGroupConsume
	}
	first, err := consume(ctx, topic, group, 5)
	if err != nil {
		return fmt.Errorf("first member: %w", err)
	}
	if err := compare(first, want[:5]); err != nil {
		return fmt.Errorf("first member: %w", err)
	}
	second, err := consume(ctx, topic, group, 5)
	if err != nil {
		return fmt.Errorf("second member: %w", err)
	}
	if err := compare(second, want[5:]); err != nil {
		return fmt.Errorf("second member did not resume at the commit: %w", err)
	}
	return nil
}

func minISRRF1(ctx context.Context, name, topic string) error {
	if name == "franz" {
		return franzMinISRRF1(ctx, topic)
	}
	return fmt.Errorf("min-isr-rf1 not implemented for %s", name)
}
