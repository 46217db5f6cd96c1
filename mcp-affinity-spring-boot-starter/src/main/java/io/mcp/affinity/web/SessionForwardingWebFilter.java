package io.mcp.affinity.web;

import java.util.Objects;

import org.springframework.core.Ordered;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * Forwards requests for sessions other instances own ahead of the application's own web filters, when a tracer is
 * configured: the forward then runs under the server observation, so the forwarder's server span and the forward's
 * client span are in the trace. Without a tracer, {@link SessionForwardingHttpHandler} forwards earlier still, before
 * Spring's web handler. The application's filters run on the owner instead (security included: {@code Authorization}
 * travels end to end). Everything else goes on down the chain to the router filter, {@link McpSessionAffinity}, which
 * keeps what was decided here.
 * <p>
 * Only requests for a method and path the MCP router has already served are looked at (the router filter remembers
 * them), so nothing outside the MCP endpoints is ever forwarded from here, whatever headers it carries.
 */
public final class SessionForwardingWebFilter implements WebFilter, Ordered {

	/** The filter's order: ahead of Spring Security's filter chain and of any other filter ordered after it. */
	public static final int ORDER = Ordered.HIGHEST_PRECEDENCE + 10;

	private final McpSessionAffinity sessionAffinity;

	/**
	 * Creates the filter.
	 * @param sessionAffinity the router filter of the MCP router whose requests this filter forwards early
	 */
	public SessionForwardingWebFilter(McpSessionAffinity sessionAffinity) {
		this.sessionAffinity = Objects.requireNonNull(sessionAffinity, "sessionAffinity must not be null");
	}

	@Override
	public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
		return this.sessionAffinity.forwardBeforeFilters(exchange, chain);
	}

	@Override
	public int getOrder() {
		return ORDER;
	}

}
