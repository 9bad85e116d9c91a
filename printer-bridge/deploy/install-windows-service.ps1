# Installs the store bridge as a Windows service with the built-in service control manager.
# Run in an elevated PowerShell from the folder holding printer-bridge.exe and printer-bridge.toml.
# Windows services must answer the service control manager, which a plain console program does not, so the
# bridge is wrapped by WinSW (https://github.com/winsw/winsw, MIT): put WinSW-x64.exe next to this script as
# huiyuan-bridge.exe; it reads huiyuan-bridge.xml below.
$dir = Split-Path -Parent $MyInvocation.MyCommand.Path
@"
<service>
  <id>huiyuan-bridge</id>
  <name>Huiyuan store bridge</name>
  <description>Prints receipts on the store's LAN printers and forwards counter scans.</description>
  <executable>$dir\printer-bridge.exe</executable>
  <arguments>--config "$dir\printer-bridge.toml"</arguments>
  <workingdirectory>$dir</workingdirectory>
  <onfailure action="restart" delay="3 sec"/>
  <startmode>Automatic</startmode>
  <log mode="roll-by-size"><sizeThreshold>10240</sizeThreshold><keepFiles>8</keepFiles></log>
</service>
"@ | Set-Content -Encoding UTF8 "$dir\huiyuan-bridge.xml"
& "$dir\huiyuan-bridge.exe" install
& "$dir\huiyuan-bridge.exe" start
