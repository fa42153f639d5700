package controller

import (
	"context"

	"github.com/spool-broker/spool/protocol"
)

// QuotaAlterationsFromRequest turns an AlterClientQuotas request into the
// alterations AlterClientQuotas takes. The broker's handler and the
// controller listener both use it, so a forwarded request is read exactly as
// a local one.
func QuotaAlterationsFromRequest(req *protocol.AlterClientQuotasRequest) []QuotaAlteration {
	alts := make([]QuotaAlteration, len(req.Entries))
	for i, e := range req.Entries {
		a := &alts[i]
		for _, d := range e.Entity {
			a.Entity = append(a.Entity, QuotaEntityData{EntityType: d.EntityType, EntityName: d.EntityName})
		}
		for _, op := range e.Ops {
			o := QuotaOp{Key: op.Key}
			if !op.Remove {
				v := op.Value
				o.Value = &v
			}
			a.Ops = append(a.Ops, o)
		}
	}
	return alts
}

// AlterClientQuotasResponse answers AlterClientQuotas from its results, one
// entry per distinct entity, with Kafka's code and message for each error.
func AlterClientQuotasResponse(results []QuotaAlterationResult) *protocol.AlterClientQuotasResponse {
	resp := &protocol.AlterClientQuotasResponse{Entries: make([]protocol.AlterClientQuotasResponseEntryData, len(results))}
	for i, r := range results {
		out := &resp.Entries[i]
		out.Entity = make([]protocol.AlterClientQuotasResponseEntityData, len(r.Entity))
		for j, d := range r.Entity {
			out.Entity[j] = protocol.AlterClientQuotasResponseEntityData{EntityType: d.EntityType, EntityName: d.EntityName}
		}
		if r.Err != nil {
			code, msg := ErrorCode(r.Err)
			out.ErrorCode, out.ErrorMessage = code, &msg
		}
	}
	return resp
}

// quotaResultsFromResponse reads a forwarded AlterClientQuotas answer back
// into results carrying this package's sentinels.
func quotaResultsFromResponse(resp *protocol.AlterClientQuotasResponse) []QuotaAlterationResult {
	out := make([]QuotaAlterationResult, len(resp.Entries))
	for i, e := range resp.Entries {
		r := &out[i]
		for _, d := range e.Entity {
			r.Entity = append(r.Entity, QuotaEntityData{EntityType: d.EntityType, EntityName: d.EntityName})
		}
		r.Err = CodeError(e.ErrorCode, e.ErrorMessage)
	}
	return out
}

// alterClientQuotasRequest is the request a Router forwards.
func alterClientQuotasRequest(alts []QuotaAlteration, validateOnly bool) *protocol.AlterClientQuotasRequest {
	req := &protocol.AlterClientQuotasRequest{ValidateOnly: validateOnly, Entries: make([]protocol.AlterClientQuotasRequestEntryData, len(alts))}
	for i, a := range alts {
		e := &req.Entries[i]
		for _, d := range a.Entity {
			e.Entity = append(e.Entity, protocol.AlterClientQuotasRequestEntityData{EntityType: d.EntityType, EntityName: d.EntityName})
		}
		for _, op := range a.Ops {
			o := protocol.AlterClientQuotasRequestOpData{Key: op.Key, Remove: op.Value == nil}
			if op.Value != nil {
				o.Value = *op.Value
			}
			e.Ops = append(e.Ops, o)
		}
	}
	return req
}

// AlterClientQuotas implements Client: the local controller when active,
// else Kafka's AlterClientQuotas sent to the active controller.
func (r *Router) AlterClientQuotas(ctx context.Context, alts []QuotaAlteration, validateOnly bool) []QuotaAlterationResult {
	var out []QuotaAlterationResult
	remote := false
	err := r.retry(ctx, "AlterClientQuotas", func(ctx context.Context) error {
		remote = false
		if l := r.local(); l != nil {
			out = l.AlterClientQuotas(ctx, alts, validateOnly)
		} else {
			remote = true
			resp, err := r.send(ctx, alterClientQuotasRequest(alts, validateOnly))
			if err != nil {
				return err
			}
			out = quotaResultsFromResponse(resp.(*protocol.AlterClientQuotasResponse))
		}
		for _, res := range out {
			if retriable(res.Err) {
				return res.Err
			}
		}
		return nil
	})
	if remote && !retriable(err) {
		r.catchUp(ctx)
	}
	if err != nil {
		out = make([]QuotaAlterationResult, len(alts))
		for i, a := range alts {
			out[i] = QuotaAlterationResult{Entity: a.Entity, Err: err}
		}
	}
	return out
}
