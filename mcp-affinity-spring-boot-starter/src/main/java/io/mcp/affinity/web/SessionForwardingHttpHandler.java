package io.mcp.affinity.web;

import java.util.Objects;

import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.http.server.reactive.HttpHandlerDecoratorFactory;

/**
 * Forwards requests for sessions other instances own before Spring's web handler sees them, where a forward costs
 * least: no exchange, no server observation, no filters, no handler look-up. Used when no tracer is configured (with
 * one, {@link SessionForwardingWebFilter} forwards under the server observation). The application's own filters run on
 * the owner instead (security included: {@code Authorization} travels end to end). Everything else goes on to the web
 * handler and the router filter, {@link McpSessionAffinity}, which keeps what was decided here.
 * <p>
 * Only requests for a method and path the MCP router has already served are looked at (the router filter remembers
 * them), so nothing outside the MCP endpoints is ever forwarded from here, whatever headers it carries. On a server
 * other than Reactor Netty (WebFlux on Tomcat or Jetty), every request goes on to the web handler, and the router
 * filter forwards.
 */
public final class SessionForwardingHttpHandler implements HttpHandlerDecoratorFactory {

	private final McpSessionAffinity sessionAffinity;

	/**
	 * Creates the decorator.
	 * @param sessionAffinity the router filter of the MCP router whose requests are forwarded early
	 */
	public SessionForwardingHttpHandler(McpSessionAffinity sessionAffinity) {
		this.sessionAffinity = Objects.requireNonNull(sessionAffinity, "sessionAffinity must not be null");
	}

	@Override
	public HttpHandler apply(HttpHandler webHandler) {
		return (request, response) -> this.sessionAffinity.forwardBeforeWebHandler(request, response, webHandler);
	}

}
