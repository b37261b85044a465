// Dashboard: signs out through the JSON API, then back to the sign-in page.
document.getElementById('sign-out').addEventListener('click', async () => {
  await fetch('/v1/auth/logout', { method: 'POST' });
  window.location.assign('/');
});
