package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;

import io.mcp.affinity.web.RequestBodyRefusedException;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;

/**
 * A request body read through the affinity layer's limits: a body that goes past the size limit ends with
 * {@link RequestBodyRefusedException#tooLarge()} before any reader holds the excess, and one whose client stops
 * sending it (the container's read timeout, which the starter sets to {@code mcp.affinity.request-body-timeout}) with
 * {@link RequestBodyRefusedException#timedOut()}.
 */
final class GuardedRequestBody extends ServletInputStream {

	private final ServletInputStream body;

	private final long limit;

	private long received;

	GuardedRequestBody(ServletInputStream body, long limit) {
		this.body = body;
		this.limit = limit;
	}

	/**
	 * Reads a whole body, for a local handler that would read it whole anyway (the MCP transports do): a refusal is
	 * then known before the handler runs, and answered as such rather than as the handler's 400 or 500.
	 */
	static byte[] readAll(ServletInputStream body, long limit) throws IOException {
		try (InputStream guarded = new GuardedRequestBody(body, limit)) {
			return guarded.readAllBytes();
		}
	}

	@Override
	public int read() throws IOException {
		try {
			int read = this.body.read();
			if (read >= 0) {
				count(1);
			}
			return read;
		}
		catch (IOException ex) {
			throw refusedIfTimedOut(ex);
		}
	}

	@Override
	public int read(byte[] buffer, int offset, int length) throws IOException {
		try {
			int read = this.body.read(buffer, offset, length);
			if (read > 0) {
				count(read);
			}
			return read;
		}
		catch (IOException ex) {
			throw refusedIfTimedOut(ex);
		}
	}

	/**
	 * Copies the body as it arrives, flushing each part read: the forward copies the body through this method, and
	 * its client would otherwise hold a part in its send buffer until more came. A body that arrived whole leaves
	 * with the request headers in one write.
	 */
	@Override
	public long transferTo(OutputStream out) throws IOException {
		byte[] buffer = new byte[8192];
		long transferred = 0;
		int read;
		while ((read = read(buffer, 0, buffer.length)) >= 0) {
			out.write(buffer, 0, read);
			out.flush();
			transferred += read;
		}
		return transferred;
	}

	private static IOException refusedIfTimedOut(IOException ex) {
		if (isReadTimeout(ex)) {
			throw RequestBodyRefusedException.timedOut();
		}
		return ex;
	}

	private void count(int read) {
		this.received += read;
		if (this.received > this.limit) {
			throw RequestBodyRefusedException.tooLarge();
		}
	}

	@Override
	public boolean isFinished() {
		return this.body.isFinished();
	}

	@Override
	public boolean isReady() {
		return this.body.isReady();
	}

	@Override
	public void setReadListener(ReadListener readListener) {
		this.body.setReadListener(readListener);
	}

	@Override
	public void close() {
		// The container owns the stream.
	}

	/** Whether a read failed because the client stopped sending: the container's read timeout. */
	static boolean isReadTimeout(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof SocketTimeoutException) {
				return true;
			}
		}
		return false;
	}

}
