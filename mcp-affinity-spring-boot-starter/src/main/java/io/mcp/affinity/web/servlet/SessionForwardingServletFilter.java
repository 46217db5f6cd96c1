package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.util.Objects;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * Forwards requests for sessions other instances own ahead of the application's own servlet filters and the
 * dispatcher servlet, where a forward costs least: no handler look-up, no router, and none of the application's
 * filters, which the owner runs on the forwarded request instead (security included: {@code Authorization} travels end
 * to end). Registered right after the server observation filter, so forwards are still observed (and traced). Everything
 * else goes on down the chain to the router filter, {@link ServletSessionAffinity}, which keeps what was decided here.
 * <p>
 * Only requests for a method and path the MCP router has already served are looked at (the router filter remembers
 * them), so nothing outside the MCP endpoints is ever forwarded from here, whatever headers it carries.
 */
public final class SessionForwardingServletFilter implements Filter {

	private final ServletSessionAffinity sessionAffinity;

	/**
	 * Creates the filter.
	 * @param sessionAffinity the router filter of the MCP router whose requests this filter forwards early
	 */
	public SessionForwardingServletFilter(ServletSessionAffinity sessionAffinity) {
		this.sessionAffinity = Objects.requireNonNull(sessionAffinity, "sessionAffinity must not be null");
	}

	@Override
	public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
			throws IOException, ServletException {
		if (!(request instanceof HttpServletRequest httpRequest)
				|| !(response instanceof HttpServletResponse httpResponse)) {
			chain.doFilter(request, response);
			return;
		}
		try {
			this.sessionAffinity.forwardBeforeFilters(httpRequest, httpResponse, chain);
		}
		catch (IOException | ServletException | RuntimeException ex) {
			throw ex;
		}
		catch (Exception ex) {
			throw new ServletException(ex);
		}
	}

}
