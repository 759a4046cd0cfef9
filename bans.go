package phalanx

import "net/http"

// WAFStatus is the firewall's part of Status.
type WAFStatus struct {
	Bans int `json:"bans"`
}

// wafStatus returns the firewall's counts, nil without a firewall.
func (s *Server) wafStatus() *WAFStatus { return nil }

// adminBans adds the ban endpoints to mux.
func (s *Server) adminBans(mux *http.ServeMux) {
	noWAF := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no firewall is configured"})
	}
	mux.HandleFunc("GET /api/bans", noWAF)
	mux.HandleFunc("POST /api/bans", noWAF)
	mux.HandleFunc("DELETE /api/bans/{client}", noWAF)
}
