<#
.SYNOPSIS
  Build the Windows app and installer of mabgui (run on Windows; it cannot run on Linux).

.DESCRIPTION
  installers\dist\mabgui\                          the one-folder app: mabgui.exe (windowed,
                                                    for the Start menu) and mabgui-cli.exe
                                                    (console, for terminals and scripts)
  installers\dist\mabgui-VERSION-windows-x64-setup.exe   the Inno Setup installer

  Needs: Windows 10/11 x64, Python 3.11+ (python.org or winget) with mabgui's dependencies
  installed (py -m pip install . in a venv), and Inno Setup 6.3 or later
  (winget install JRSoftware.InnoSetup). PyInstaller is installed into that Python if missing.

  Optional code signing: set MABGUI_SIGN_COMMAND to a signtool command line in which $f stands
  for the file, e.g.
    $env:MABGUI_SIGN_COMMAND = 'signtool sign /fd sha256 /tr http://timestamp.digicert.com /td sha256 /a $f'
  Then mabgui.exe, mabgui-cli.exe, the installer and the uninstaller are signed.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1
  powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1 -Python .venv\Scripts\python.exe
#>
param(
    [string]$Python = "python",
    [string]$Iscc = ""
)
$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$Root = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
Set-Location $Root

function Invoke-Checked {
    param([string]$Exe, [string[]]$Arguments)
    Write-Host "+ $Exe $($Arguments -join ' ')"
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "build: '$Exe' failed with exit code $LASTEXITCODE" }
}

$Version = (& $Python -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])").Trim()
if ($LASTEXITCODE -ne 0 -or -not $Version) { throw "build: cannot read the version from pyproject.toml with $Python" }
# Windows file versions are four numbers: 1.2.3rc1 -> 1.2.3.0
$Numbers = @([regex]::Matches(($Version -split '[^0-9.]')[0], '\d+') | ForEach-Object { $_.Value }) + @('0', '0', '0', '0')
$NumericVersion = ($Numbers[0..3]) -join '.'
Write-Host "build: mabgui $Version ($NumericVersion) for Windows with $Python"

# 1. the one-folder app, with its --version and --self-test (offscreen) run by freeze.py
Invoke-Checked $Python @("installers\freeze.py", "--dist", "installers\dist", "--build", "installers\build\pyi")
$App = Join-Path $Root "installers\dist\mabgui"
foreach ($exe in @("mabgui.exe", "mabgui-cli.exe")) {
    if (-not (Test-Path (Join-Path $App $exe))) { throw "build: $exe is missing in $App" }
}

# 2. Inno Setup
if (-not $Iscc) {
    $candidates = @(
        (Get-Command "iscc.exe" -ErrorAction SilentlyContinue | ForEach-Object { $_.Source }),
        "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe",
        "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
        "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe"
    ) | Where-Object { $_ -and (Test-Path $_) }
    if (-not $candidates) { throw "build: Inno Setup's ISCC.exe not found: winget install JRSoftware.InnoSetup (or pass -Iscc PATH)" }
    $Iscc = @($candidates)[0]
}
$IsccArgs = @("/Qp", "/DMyAppVersion=$Version", "/DNumericVersion=$NumericVersion", "/DRootDir=$Root")
if ($env:MABGUI_SIGN_COMMAND) {
    $IsccArgs += @("/DSignToolName=mabguisign", "/Smabguisign=$env:MABGUI_SIGN_COMMAND")
}
$IsccArgs += (Join-Path $Root "installers\windows\mabgui.iss")
Invoke-Checked $Iscc $IsccArgs

$Setup = Join-Path $Root "installers\dist\mabgui-$Version-windows-x64-setup.exe"
if (-not (Test-Path $Setup)) { throw "build: $Setup was not written" }
$size = [math]::Round((Get-Item $Setup).Length / 1MB, 1)
Write-Host "build: $Setup ($size MB)"
Write-Host "build: silent install test: `"$Setup`" /VERYSILENT /CURRENTUSER, then `"%LOCALAPPDATA%\Programs\mabgui\mabgui-cli.exe`" --self-test"
