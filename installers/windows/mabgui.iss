; Inno Setup 6 script: the Windows installer of mabgui (run by installers\windows\build.ps1,
; which passes the defines below; it cannot run on Linux).
;
;   ISCC /DMyAppVersion=0.1.0 /DNumericVersion=0.1.0.0 /DRootDir=C:\src\mabgui mabgui.iss
;
; Installs the PyInstaller one-folder build (installers\dist\mabgui) per user under
; %LOCALAPPDATA%\Programs\mabgui without an admin prompt, or for all users under
; C:\Program Files\mabgui when "Install for all users" is chosen; a Start-menu shortcut, an
; optional desktop shortcut, optionally mabgui-cli.exe on the PATH, and an uninstaller listed in
; Settings → Apps. Optional code signing: build.ps1 passes /DSignToolName=… and /S….

#ifndef MyAppVersion
  #error Pass /DMyAppVersion=X.Y.Z (installers\windows\build.ps1 does)
#endif
#ifndef NumericVersion
  #define NumericVersion "0.0.0.0"
#endif
#ifndef RootDir
  #define RootDir AddBackslash(SourcePath) + "..\.."
#endif
#define AppDir RootDir + "\installers\dist\mabgui"

[Setup]
; The id ties upgrades and the uninstaller together: never change it.
AppId=io.github.mabgui.Mabgui
AppName=mabgui
AppVersion={#MyAppVersion}
AppVerName=mabgui {#MyAppVersion}
AppPublisher=The mabgui authors
AppPublisherURL=https://github.com/mabgui/mabgui
AppSupportURL=https://github.com/mabgui/mabgui/issues
AppComments=Build and inspect multi-architecture container images
VersionInfoVersion={#NumericVersion}
VersionInfoProductTextVersion={#MyAppVersion}
DefaultDirName={autopf}\mabgui
DefaultGroupName=mabgui
DisableProgramGroupPage=yes
DisableDirPage=auto
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
ChangesEnvironment=yes
SetupIconFile={#RootDir}\resources\icons\mabgui.ico
UninstallDisplayIcon={app}\mabgui.exe
UninstallDisplayName=mabgui
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
OutputDir={#RootDir}\installers\dist
OutputBaseFilename=mabgui-{#MyAppVersion}-windows-x64-setup
CloseApplications=yes
#ifdef SignToolName
SignTool={#SignToolName}
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add mabgui-cli to the PATH (for terminals and scripts)"; GroupDescription: "Command line:"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole bundle: no stale libraries of the previous version.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
#ifdef SignToolName
Source: "{#AppDir}\mabgui.exe"; DestDir: "{app}"; Flags: ignoreversion sign
Source: "{#AppDir}\mabgui-cli.exe"; DestDir: "{app}"; Flags: ignoreversion sign
Source: "{#AppDir}\*"; Excludes: "\mabgui.exe,\mabgui-cli.exe"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#else
Source: "{#AppDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#endif

[Icons]
Name: "{autoprograms}\mabgui"; Filename: "{app}\mabgui.exe"; Comment: "Build and inspect multi-architecture container images"
Name: "{autodesktop}\mabgui"; Filename: "{app}\mabgui.exe"; Tasks: desktopicon

[Registry]
; mabgui-cli.exe on the PATH: the user's PATH for a per-user install, the machine's otherwise.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: (not IsAdminInstallMode) and NeedsAddPath
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: IsAdminInstallMode and NeedsAddPath

[Run]
Filename: "{app}\mabgui.exe"; Description: "{cm:LaunchProgram,mabgui}"; Flags: nowait postinstall skipifsilent

[Code]
const
  MachineEnvKey = 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';

procedure EnvLocation(var RootKey: Integer; var SubKey: String);
begin
  if IsAdminInstallMode then begin
    RootKey := HKEY_LOCAL_MACHINE;
    SubKey := MachineEnvKey;
  end else begin
    RootKey := HKEY_CURRENT_USER;
    SubKey := 'Environment';
  end;
end;

{ The position of Dir as a whole entry of the ';'-separated Path (1-based, in Path), or 0. }
function PathEntryPos(const Path, Dir: String): Integer;
begin
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';');
end;

function NeedsAddPath: Boolean;
var
  RootKey: Integer;
  SubKey, Path: String;
begin
  EnvLocation(RootKey, SubKey);
  if not RegQueryStringValue(RootKey, SubKey, 'Path', Path) then
    Result := True
  else
    Result := PathEntryPos(Path, ExpandConstant('{app}')) = 0;
end;

procedure RemoveFromPath;
var
  RootKey, I: Integer;
  SubKey, Path, Dir: String;
begin
  EnvLocation(RootKey, SubKey);
  if not RegQueryStringValue(RootKey, SubKey, 'Path', Path) then
    exit;
  Dir := ExpandConstant('{app}');
  I := PathEntryPos(Path, Dir);
  if I = 0 then
    exit;
  if I + Length(Dir) <= Length(Path) then
    Delete(Path, I, Length(Dir) + 1)      { Dir; → removed with its ';' }
  else if I > 1 then
    Delete(Path, I - 1, Length(Dir) + 1)  { ;Dir at the end }
  else
    Path := '';                           { Dir was the only entry }
  RegWriteExpandStringValue(RootKey, SubKey, 'Path', Path);
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemoveFromPath;
end;
