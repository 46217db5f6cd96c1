package io.mcp.affinity.web;

import org.springframework.boot.builder.SpringApplicationBuilder;

/**
 * Every forwarding test on the servlet stack with forwards made by the router filter, after the application's servlet
 * filters ({@code mcp.affinity.forwarding.before-application-filters=false}).
 */
class OwnerForwardingServletAfterFiltersTests extends OwnerForwardingServletTests {

	@Override
	protected SpringApplicationBuilder instance() {
		return super.instance().properties("mcp.affinity.forwarding.before-application-filters=false");
	}

	@Override
	protected boolean forwardsBeforeApplicationFilters() {
		return false;
	}

}
