package io.mcp.affinity.sample.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.util.Collections;
import java.util.Set;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.catalina.Context;
import org.apache.catalina.startup.Tomcat;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.io.entity.InputStreamEntity;

/**
 * The floor for a hop on the servlet stack, to measure the servlet forwarder against: embedded Tomcat with one servlet
 * that relays every request to one address with a pooled Apache HttpClient 5 (classic, the I/O on the request thread),
 * the body streamed both ways and the response flushed after each read (an SSE event leaves at once). The whole
 * exchange stays on the request thread, a long stream included, which a product cannot afford (a Tomcat thread per
 * open stream) but makes this the cheapest servlet hop there is. Nothing else: no header hygiene beyond the framing
 * headers, no signing, timeouts or tracing. Run by the benchmark as a process of its own:
 * {@code MinimalServletRelay <port> <target>}.
 */
public final class MinimalServletRelay {

	// Set by the client and the container from the message itself.
	private static final Set<String> FRAMING = Set.of("host", "content-length", "transfer-encoding", "connection",
			"keep-alive");

	private MinimalServletRelay() {
	}

	public static void main(String[] args) throws Exception {
		int port = Integer.parseInt(args[0]);
		URI target = URI.create(args[1]);
		CloseableHttpClient client = HttpClients.custom()
			.setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
				.setMaxConnPerRoute(256)
				.setMaxConnTotal(256)
				.build())
			.disableAutomaticRetries()
			.disableRedirectHandling()
			.disableContentCompression()
			.build();
		Tomcat tomcat = new Tomcat();
		tomcat.setBaseDir(Files.createTempDirectory("minimal-servlet-relay").toString());
		tomcat.getConnector().setPort(port);
		tomcat.getConnector().setProperty("address", "127.0.0.1");
		Context context = tomcat.addContext("", null);
		Tomcat.addServlet(context, "relay", new Relay(client, target));
		context.addServletMappingDecoded("/*", "relay");
		tomcat.start();
		tomcat.getServer().await();
	}

	private static final class Relay extends HttpServlet {

		private final transient CloseableHttpClient client;

		private final URI target;

		Relay(CloseableHttpClient client, URI target) {
			this.client = client;
			this.target = target;
		}

		@Override
		protected void service(HttpServletRequest request, HttpServletResponse response) throws IOException {
			String query = request.getQueryString();
			HttpUriRequestBase upstream = new HttpUriRequestBase(request.getMethod(),
					URI.create(this.target + request.getRequestURI() + ((query != null) ? "?" + query : "")));
			for (String name : Collections.list(request.getHeaderNames())) {
				if (!FRAMING.contains(name.toLowerCase())) {
					for (String value : Collections.list(request.getHeaders(name))) {
						upstream.addHeader(name, value);
					}
				}
			}
			long length = request.getContentLengthLong();
			if (length > 0 || request.getHeader("Transfer-Encoding") != null) {
				String type = request.getContentType();
				upstream.setEntity(new InputStreamEntity(request.getInputStream(), length,
						(type != null) ? ContentType.parse(type) : null));
			}
			try (ClassicHttpResponse answer = this.client.executeOpen(null, upstream, null)) {
				response.setStatus(answer.getCode());
				for (Header header : answer.getHeaders()) {
					String name = header.getName().toLowerCase();
					if (!FRAMING.contains(name) || "content-length".equals(name)) {
						response.addHeader(header.getName(), header.getValue());
					}
				}
				HttpEntity entity = answer.getEntity();
				if (entity != null) {
					if (entity.getContentType() != null) {
						response.setContentType(entity.getContentType());
					}
					OutputStream out = response.getOutputStream();
					byte[] buffer = new byte[8192];
					try (InputStream in = entity.getContent()) {
						for (int n = in.read(buffer); n != -1; n = in.read(buffer)) {
							out.write(buffer, 0, n);
							out.flush();
						}
					}
				}
			}
		}

	}

}
