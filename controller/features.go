package controller

//lint:file-ignore ST1005 the text after each sentinel is Kafka's error message, which clients receive verbatim (see ErrorCode).

import (
	"context"
	"fmt"
)

// SupportedFeatures are the feature levels this release supports (KIP-584):
// what every broker registers, ApiVersions reports and UpdateFeatures
// accepts. transaction.version 2 enables KIP-890 transactions for 4.x
// clients.
var SupportedFeatures = []FeatureRange{
	{Name: MetadataVersionFeature, MinSupportedVersion: 7, MaxSupportedVersion: LatestMetadataVersion},
	{Name: StreamsVersionFeature, MinSupportedVersion: 0, MaxSupportedVersion: 1},
	{Name: GroupVersionFeature, MinSupportedVersion: 0, MaxSupportedVersion: 1},
	{Name: TransactionVersionFeature, MinSupportedVersion: 0, MaxSupportedVersion: 2},
	{Name: KRaftVersionFeature, MinSupportedVersion: 0, MaxSupportedVersion: 1},
	{Name: EligibleLeaderReplicasFeature, MinSupportedVersion: 0, MaxSupportedVersion: 1},
	{Name: ShareVersionFeature, MinSupportedVersion: 0, MaxSupportedVersion: 1},
}

// UpgradeType is how UpdateFeatures may move a level (KIP-778).
type UpgradeType int8

// The upgrade types of UpdateFeatures v1+.
const (
	Upgrade         UpgradeType = 1
	SafeDowngrade   UpgradeType = 2
	UnsafeDowngrade UpgradeType = 3
)

// FeatureUpdate is one entry of UpdateFeatures: the new finalized level
// (0 disables the feature) and how it may move.
type FeatureUpdate struct {
	Name  string
	Level int16
	Type  UpgradeType
}

// featureUpdatePrefix is what Kafka's QuorumController puts before the
// error of the feature that failed: the update is atomic.
const featureUpdatePrefix = "The update failed for all features since the following feature had an error: "

// UpdateFeatures finalizes new feature levels as Kafka's
// FeatureControlManager does, atomically: the first update it refuses
// refuses the whole request (ErrInvalidUpdateVersion with Kafka's
// prefixed message) and nothing is written. A level must be supported by
// this controller and by every registered broker; a lower level needs a
// downgrade type, a higher one must not have one; metadata.version is
// never downgraded (Spool keeps no older metadata formats). validateOnly
// checks without writing.
func (c *Controller) UpdateFeatures(ctx context.Context, updates []FeatureUpdate, validateOnly bool) error {
	done, err := c.beginOp(ctx)
	if err != nil {
		return err
	}
	defer done()
	records, err := featureRecords(c.Image(), c.cfg.NodeID, updates)
	if err != nil || validateOnly || len(records) == 0 {
		return err
	}
	_, err = c.apply(ctx, records)
	return err
}

// featureRecords validates updates against img and returns the records.
func featureRecords(img *MetadataImage, self int32, updates []FeatureUpdate) ([]Record, error) {
	var records []Record
	for _, u := range updates {
		if msg := refuseFeatureUpdate(img, self, u); msg != "" {
			return nil, fmt.Errorf("%w: %s%s", ErrInvalidUpdateVersion, featureUpdatePrefix, msg)
		}
		if u.Level != img.Feature(u.Name) {
			records = append(records, &FeatureLevelRecord{Name: u.Name, FeatureLevel: u.Level})
		}
	}
	return records, nil
}

// refuseFeatureUpdate returns why u cannot be made, "" when it can.
func refuseFeatureUpdate(img *MetadataImage, self int32, u FeatureUpdate) string {
	invalid := func(reason string) string {
		return fmt.Sprintf("Invalid update version %d for feature %s. %s", u.Level, u.Name, reason)
	}
	if u.Type < Upgrade || u.Type > UnsafeDowngrade {
		return invalid("The controller does not support the given upgrade type.")
	}
	if u.Level < 0 {
		return invalid("A feature version cannot be less than 0.")
	}
	var local *FeatureRange
	for i := range SupportedFeatures {
		if SupportedFeatures[i].Name == u.Name {
			local = &SupportedFeatures[i]
		}
	}
	switch {
	case local == nil:
		return invalid(fmt.Sprintf("Local controller %d does not support this feature.", self))
	case u.Level < local.MinSupportedVersion || u.Level > local.MaxSupportedVersion:
		return invalid(fmt.Sprintf("Local controller %d only supports versions %d-%d", self, local.MinSupportedVersion, local.MaxSupportedVersion))
	}
	for _, b := range img.Brokers() {
		var r *FeatureRange
		for i := range b.Features {
			if b.Features[i].Name == u.Name {
				r = &b.Features[i]
			}
		}
		switch {
		case r == nil && u.Level > 0:
			return invalid(fmt.Sprintf("Broker %d does not support this feature.", b.ID))
		case r != nil && (u.Level < r.MinSupportedVersion || u.Level > r.MaxSupportedVersion):
			return invalid(fmt.Sprintf("Broker %d does not support the given version. It supports %d to %d.", b.ID, r.MinSupportedVersion, r.MaxSupportedVersion))
		}
	}
	current := img.Feature(u.Name)
	switch {
	case u.Level < current && u.Type == Upgrade:
		return invalid("Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.")
	case u.Level > current && u.Type != Upgrade:
		return invalid("Can't downgrade to a newer version.")
	case u.Name == KRaftVersionFeature && u.Level < current:
		return invalid("Downgrading kraft.version is not supported.")
	case u.Name == MetadataVersionFeature && u.Level < current && u.Type == UnsafeDowngrade:
		return fmt.Sprintf("Invalid metadata.version %d. Unsafe metadata downgrade is not supported in this version.", u.Level)
	case u.Name == MetadataVersionFeature && u.Level < current:
		return fmt.Sprintf("Invalid metadata.version %d. Refusing to perform the requested downgrade because it might delete metadata information.", u.Level)
	}
	return ""
}
