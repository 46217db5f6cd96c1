package io.mcp.affinity.web;

import org.springframework.boot.builder.SpringApplicationBuilder;

/**
 * Every routing rule of {@link OwnerForwardingTests} on WebFlux with
 * {@code mcp.affinity.forwarding.before-application-filters=false}: forwards are made by the router filter, after the
 * application's web filters, and nothing else changes.
 */
class OwnerForwardingAfterFiltersTests extends OwnerForwardingTests {

	@Override
	protected SpringApplicationBuilder instance() {
		return super.instance().properties("mcp.affinity.forwarding.before-application-filters=false");
	}

	@Override
	protected boolean forwardsBeforeApplicationFilters() {
		return false;
	}

}
