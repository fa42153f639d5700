package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/spool-broker/spool/controller"
)

// runMetadataDump prints a node's metadata log (kafka-dump-log
// --cluster-metadata-decoder, kafka-metadata-shell): the newest snapshot,
// then every entry after it, one line each. It reads the files only, so it
// is safe on a running node.
func runMetadataDump(_ context.Context, e *Env, args []string) int {
	fs := newFlags(e, "metadata dump")
	output := fs.String("output", "table", "table: one line per record; json: one JSON object per log entry")
	pos, err := parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(pos) != 1 || (*output != "table" && *output != "json") {
		return fail(e, "metadata dump", usageErr(errors.New("name the metadata directory: spool metadata dump DIR [--output table|json] (DIR is __cluster_metadata under metadata.log.dir or the first of log.dirs)")))
	}
	enc := json.NewEncoder(e.Stdout)
	err = controller.DumpMetadataLog(pos[0], func(m controller.MetadataEntry) error {
		if *output == "json" {
			return enc.Encode(m)
		}
		if m.Error != "" {
			fmt.Fprintf(e.Stdout, "%d\t%d\t%s\tERROR %s\n", m.Index, m.Term, m.Kind, m.Error)
		}
		if len(m.Records) == 0 && m.Error == "" {
			fmt.Fprintf(e.Stdout, "%d\t%d\t%s\n", m.Index, m.Term, m.Kind)
		}
		for _, r := range m.Records {
			b, err := json.Marshal(r.Data)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "%d\t%d\t%s\t%s\t%s\n", m.Index, m.Term, m.Kind, r.Type, b)
		}
		return nil
	})
	if err != nil {
		return fail(e, "metadata dump", err)
	}
	return exitOK
}
